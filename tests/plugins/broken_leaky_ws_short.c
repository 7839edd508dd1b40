/* Mistake: the workspace declared one float short; backward (only) writes past it. */
#define BROKEN_NAME "broken_leaky_ws_short"
#define LEAKY_WS_SHORT 1
#include "leaky_layer.h"
