#include "check.h"

int check_passed;

void check_summary(int failed) {
    printf("%d passed, %d failed\n", check_passed, failed);
    fflush(stdout);
}
