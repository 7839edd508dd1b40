/* Mistake: the parameter tensors overlap. */
#define BROKEN_NAME "broken_tensors"
#define BROKEN_TENSORS 1
#include "broken_layer.h"
