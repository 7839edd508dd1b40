/* The layer of broken_layer.h without a mistake: check-plugin passes it. */
#define BROKEN_NAME "scale_ok"

#include "broken_layer.h"
