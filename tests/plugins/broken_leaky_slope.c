/* Mistake: backward forgets the slope alpha below the kink. */
#define BROKEN_NAME "broken_leaky_slope"
#define LEAKY_NO_SLOPE 1
#include "leaky_layer.h"
