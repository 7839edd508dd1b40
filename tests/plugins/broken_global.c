/* Mistake: hidden global state (forward keeps x in a global for backward). */
#define BROKEN_NAME "broken_global"
#define BROKEN_GLOBAL 1
#include "broken_layer.h"
