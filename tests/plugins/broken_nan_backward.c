/* Mistake: backward produces a NaN from finite inputs. */
#define BROKEN_NAME "broken_nan_backward"
#define BROKEN_NAN 1
#include "broken_layer.h"
