# a comment
@problemName Toy
@timeStamps false
@missing true
@univariate true
@equalLength false
@classLabel true b a c
@data
1,2,3:b
4,?,6,7:a
8:c
%%
@problemName Toy
@missing false
@classLabel true b a c
@data
1,2:a
