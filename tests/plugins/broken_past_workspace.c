/* Mistake: forward writes one float past its declared workspace. */
#define BROKEN_NAME "broken_past_workspace"
#define BROKEN_PAST_WORKSPACE 1
#include "broken_layer.h"
