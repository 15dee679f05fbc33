# Sourced by the scripts: the one place where run-time environment variables are set.
# OpenMPI refuses to run as root without these two; each rank gets one BLAS thread so
# that ranks do not fight over the cores.
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# Build and test jobs: the machine's cores (nproc without OMP_NUM_THREADS, which it would
# honour: this file exports OMP_NUM_THREADS=1, which made every build and test run serial).
ODY_JOBS=${ODY_JOBS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
