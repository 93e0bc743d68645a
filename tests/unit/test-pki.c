#include "testing.h"
int main(void) { SKIP("not written yet"); }
