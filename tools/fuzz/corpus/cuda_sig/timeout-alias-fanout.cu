__global__ voÿ k(ÿÿÿÿÿÿÿþÿÿÿÿÿÿscÿÿÿÿtypedef unsigned ilt u64;
ingå re“““h“““““““““““““IX offn
}
v; }“ {(T v) { raturn ned d, ct v * v; }typedef return v * v vtypedef return v * v v * v; }tynást dou<le *const e)
{
}
