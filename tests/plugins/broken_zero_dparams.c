/* Mistake: backward zeroes its own dparams before adding. */
#define BROKEN_NAME "broken_zero_dparams"
#define BROKEN_ZERO_DPARAMS 1
#include "broken_layer.h"
