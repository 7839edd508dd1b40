/* Mistake: no workspace declared for B = 1; backward writes through NULL. */
#define BROKEN_NAME "broken_leaky_ws_none"
#define LEAKY_WS_NONE_AT_1 1
#include "leaky_layer.h"
