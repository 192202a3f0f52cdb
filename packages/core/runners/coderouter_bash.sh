# coderouter's bash runner, run by bash itself (never sourced by the script it starts).
# stdin: the byte length of the inputs' JSON on a line, that JSON, then the script (bashPayload in
# packages/core/src/bash.ts). $1: a directory of this execution's own, for the two files.
# The script runs as a bash process of its own: stdin from /dev/null (nothing of the payload left to
# read), fd 3 left open for the JSON output it may write, its exit status the execution's.
dir=$1
mkdir -p -- "$dir" || exit 125
# read takes one byte at a time from a pipe, so head finds the JSON right where the line ends.
IFS= read -r size || exit 125
head -c "$size" >"$dir/inputs.json" || exit 125
cat >"$dir/main.sh" || exit 125
export CODEROUTER_INPUTS_FILE="$dir/inputs.json"
exec "$BASH" "$dir/main.sh" </dev/null
