#include "jpegcheck.h"
