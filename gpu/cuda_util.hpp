#pragma once
// Shared by the GPU check and benchmark (gpu/): is there a usable device, what is it, and
// a device buffer that frees itself. Plain CUDA runtime API and the standard library.
#include <cuda_runtime_api.h>

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace ody::gpu {

// Throws std::runtime_error naming the call and CUDA's message.
#define ODY_GPU_CHECK(call)                                                                 \
  do {                                                                                      \
    const cudaError_t ody_gpu_e_ = (call);                                                  \
    if (ody_gpu_e_ != cudaSuccess)                                                          \
      throw std::runtime_error(std::string(#call) + ": " + cudaGetErrorString(ody_gpu_e_)); \
  } while (0)

// "" when device 0 can be used by these kernels; otherwise one line starting with
// "no CUDA device: " (no GPU, no or too old a driver, or compute capability below 8.0).
// Never hangs: every call returns an error code when there is no driver.
inline std::string device_problem() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device: cudaGetDeviceCount found 0 devices";
  cudaDeviceProp prop{};
  e = cudaGetDeviceProperties(&prop, 0);
  if (e != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(e);
  if (prop.major < 8) {
    std::ostringstream os;
    os << "no CUDA device: " << prop.name << " is sm_" << prop.major << prop.minor
       << ", the kernels need sm_80 or newer (bf16 tensor cores)";
    return os.str();
  }
  e = cudaSetDevice(0);
  if (e == cudaSuccess) e = cudaFree(nullptr);  // creates the context
  if (e != cudaSuccess) return std::string("no CUDA device: ") + cudaGetErrorString(e);
  return "";
}

// "NVIDIA H200, sm_90, 132 SMs, 139.8 GiB, driver 12.8, runtime 13.0" of device 0.
inline std::string device_description() {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "unknown device";
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::ostringstream os;
  os.precision(4);
  os << prop.name << ", sm_" << prop.major << prop.minor << ", " << prop.multiProcessorCount
     << " SMs, " << static_cast<double>(prop.totalGlobalMem) / (1ull << 30) << " GiB, driver "
     << driver / 1000 << "." << (driver % 1000) / 10 << ", runtime " << runtime / 1000 << "."
     << (runtime % 1000) / 10;
  return os.str();
}

inline std::string device_name() {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "unknown";
  return prop.name;
}

// Device memory of n elements of X (freed on scope exit).
template <class X>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n) : n_(n) {
    if (n_ == 0) return;
    void* raw = nullptr;
    ODY_GPU_CHECK(cudaMalloc(&raw, n_ * sizeof(X)));
    ptr_ = static_cast<X*>(raw);
  }
  explicit DeviceBuffer(const std::vector<X>& host) : DeviceBuffer(host.size()) {
    if (n_) ODY_GPU_CHECK(cudaMemcpy(ptr_, host.data(), n_ * sizeof(X), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  X* get() const { return ptr_; }
  std::size_t size() const { return n_; }
  std::vector<X> to_host() const {
    std::vector<X> h(n_);
    if (n_) ODY_GPU_CHECK(cudaMemcpy(h.data(), ptr_, n_ * sizeof(X), cudaMemcpyDeviceToHost));
    return h;
  }

 private:
  X* ptr_ = nullptr;
  std::size_t n_ = 0;
};

}  // namespace ody::gpu
