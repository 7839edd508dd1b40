/* Mistake: a sign error in dx. */
#define BROKEN_NAME "broken_sign"
#define BROKEN_SIGN 1
#include "broken_layer.h"
