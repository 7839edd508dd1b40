/* Mistake: claims DPT_CAP_WRITES_DX but adds into dx. */
#define BROKEN_NAME "broken_writes_dx_adds"
#define BROKEN_CAPS (DPT_CAP_DETERMINISTIC | DPT_CAP_WRITES_DX)
#include "broken_layer.h"
