/* Mistake: forward writes one float past its output. */
#define BROKEN_NAME "broken_past_output"
#define BROKEN_PAST_OUTPUT 1
#include "broken_layer.h"
