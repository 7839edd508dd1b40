/* Mistake: dweight = instead of +=. */
#define BROKEN_NAME "broken_leaky_assign"
#define LEAKY_ASSIGN 1
#include "leaky_layer.h"
