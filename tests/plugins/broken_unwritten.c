/* Mistake: forward at inference leaves the last output unwritten. */
#define BROKEN_NAME "broken_unwritten"
#define BROKEN_UNWRITTEN 1
#include "broken_layer.h"
