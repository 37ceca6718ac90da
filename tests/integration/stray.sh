# stray.sh (sourced): the cleanup of a test that starts processes which
# may outlive it (mpirun's ranks, tuning trials): on exit, every process
# whose argv names the test's scratch folder ($scratch, set before this
# is sourced) is killed by its id, then the folder is removed.
cleanup() {
    local p
    for p in $(pgrep -f -- "$scratch" || true); do
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$scratch"
}
trap cleanup EXIT
