/* Mistake: a sign error in the bias gradient. */
#define BROKEN_NAME "broken_leaky_sign"
#define LEAKY_BIAS_SIGN 1
#include "leaky_layer.h"
