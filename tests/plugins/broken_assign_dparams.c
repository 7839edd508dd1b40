/* Mistake: dparams = instead of +=. */
#define BROKEN_NAME "broken_assign_dparams"
#define BROKEN_ASSIGN_DPARAMS 1
#include "broken_layer.h"
