@problemName Multi
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@missing false
@classLabel true x y
@data
1,2,3:4,5,6:x
0.5,1e1,-2:3,2,1:y
