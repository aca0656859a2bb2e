#!/bin/sh
# Runs inside the VM: every test binary named in the list file, two test
# threads each, then one summary line with the totals.
#   hack/vm/guest-tests.sh LIST LABEL
list=$1
label=$2
passed=0 failed=0 bins=0 failing=""
for t in $(cat "$list"); do
    bins=$((bins + 1))
    out=$("$t" --test-threads=2 2>&1)
    echo "$out" | grep -E '^test .* (FAILED|ok)$' | grep FAILED
    line=$(echo "$out" | grep '^test result:' | tail -n1)
    p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    if [ -z "$line" ]; then
        echo "$out" | tail -n 20
        f=1 p=0
    fi
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "${f:-0}" != 0 ]; then
        failing="$failing $(basename "$t" | sed 's/-[0-9a-f]*$//')"
        echo "$out" | sed -n '/^failures:$/,/^test result/p' | head -n 80
    fi
done
echo "$label: $passed passed, $failed failed ($bins test binaries)${failing:+; failing in:$failing}"
[ "$failed" = 0 ]
