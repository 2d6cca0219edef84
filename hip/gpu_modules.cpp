/* hip/modules.h for the GPU backends: code objects loaded at run time.
 *
 * cuda: the runtime's library API (cudaLibraryLoadData, cudaLibraryGetKernel;
 * static cudart, no driver library to link), the layout from
 * cudaFuncGetParamInfo (offset and size, CUDA >= 12.4), launches through
 * cudaLaunchKernel with one pointer per parameter into the packed buffer.
 * hip: hipModuleLoadData / hipModuleGetFunction, launches through
 * hipModuleLaunchKernel with the packed buffer itself
 * (HIP_LAUNCH_PARAM_BUFFER_POINTER); the layout comes from the code object's
 * metadata, read by the loader in TypeScript (fl_function_param says 801).
 *
 * Handles are pointers to the structs below; every export checks a handle
 * against the live ones first, so a stale or made-up handle is 400, never a
 * crash. */
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "gpu_common.h"
#include "modules.h"

namespace {

struct Function {
  int32_t dev;
  std::string name;
#if defined(FL_BACKEND_CUDA)
  cudaKernel_t kernel;
#else
  hipFunction_t fn;
#endif
  bool layout_known = false;
  std::vector<uint64_t> offset, size;
  uint64_t args_bytes = 0;
};

struct Module {
  int32_t dev;
#if defined(FL_BACKEND_CUDA)
  cudaLibrary_t lib;
#else
  hipModule_t mod;
#endif
  std::vector<Function *> functions;
};

std::mutex g_mu;
std::set<Module *> g_modules;
std::set<Function *> g_functions;

Module *live_module(uint64_t h) {
  auto *m = reinterpret_cast<Module *>(static_cast<uintptr_t>(h));
  return g_modules.count(m) ? m : nullptr;
}

Function *live_function(uint64_t h) {
  auto *f = reinterpret_cast<Function *>(static_cast<uintptr_t>(h));
  return g_functions.count(f) ? f : nullptr;
}

#if defined(FL_BACKEND_CUDA)
/* The parameter layout from cudaFuncGetParamInfo: past the last parameter it
 * answers cudaErrorInvalidValue; any other answer to the first query means
 * the runtime cannot tell, and the layout stays unknown. */
void read_layout(Function &f) {
  for (size_t i = 0;; i++) {
    size_t off = 0, size = 0;
    const cudaError_t e = cudaFuncGetParamInfo(reinterpret_cast<const void *>(f.kernel), i, &off, &size);
    if (e != cudaSuccess) {
      f.layout_known = i > 0 || e == cudaErrorInvalidValue;
      break;
    }
    f.offset.push_back(off);
    f.size.push_back(size);
    f.args_bytes = off + size > f.args_bytes ? off + size : f.args_bytes;
  }
  (void)cudaGetLastError();
}
#endif

}  // namespace

int32_t fl_module_load(int32_t dev, const void *image, uint64_t bytes, uint64_t *out_module) {
  if (image == nullptr || out_module == nullptr || bytes == 0) return FL_ERROR_INVALID_VALUE;
  hipError_t e = flgpu::set_device(dev);
  if (e != hipSuccess) return flgpu::status(dev, e);
  auto *m = new Module{dev, {}, {}};
#if defined(FL_BACKEND_CUDA)
  e = cudaLibraryLoadData(&m->lib, image, nullptr, nullptr, 0, nullptr, nullptr, 0);
#else
  e = hipModuleLoadData(&m->mod, image);
#endif
  if (e != hipSuccess) {
    delete m;
    return flgpu::status(dev, e);
  }
  std::lock_guard<std::mutex> lock(g_mu);
  g_modules.insert(m);
  *out_module = flgpu::handle(m);
  return FL_SUCCESS;
}

int32_t fl_module_unload(int32_t dev, uint64_t module) {
  std::lock_guard<std::mutex> lock(g_mu);
  Module *m = live_module(module);
  if (m == nullptr || m->dev != dev) return FL_ERROR_INVALID_HANDLE;
  hipError_t e = flgpu::set_device(dev);
  if (e != hipSuccess) return flgpu::status(dev, e);
  for (Function *f : m->functions) {
    g_functions.erase(f);
    delete f;
  }
  g_modules.erase(m);
#if defined(FL_BACKEND_CUDA)
  e = cudaLibraryUnload(m->lib);
#else
  e = hipModuleUnload(m->mod);
#endif
  delete m;
  return flgpu::status(dev, e);
}

int32_t fl_module_function(int32_t dev, uint64_t module, const char *name, uint64_t *out_fn) {
  if (name == nullptr || out_fn == nullptr) return FL_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_mu);
  Module *m = live_module(module);
  if (m == nullptr || m->dev != dev) return FL_ERROR_INVALID_HANDLE;
  hipError_t e = flgpu::set_device(dev);
  if (e != hipSuccess) return flgpu::status(dev, e);
  auto *f = new Function{};
  f->dev = dev;
  f->name = name;
#if defined(FL_BACKEND_CUDA)
  e = cudaLibraryGetKernel(&f->kernel, m->lib, name);
#else
  e = hipModuleGetFunction(&f->fn, m->mod, name);
#endif
  if (e != hipSuccess) {
    delete f;
    (void)hipGetLastError();
    return FL_ERROR_NOT_FOUND;
  }
#if defined(FL_BACKEND_CUDA)
  read_layout(*f);
#endif
  m->functions.push_back(f);
  g_functions.insert(f);
  *out_fn = flgpu::handle(f);
  return FL_SUCCESS;
}

int32_t fl_function_param(int32_t dev, uint64_t fn, int32_t index, uint64_t *offset, uint64_t *size,
                          int32_t *kind) {
  if (offset == nullptr || size == nullptr || kind == nullptr || index < 0) return FL_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_mu);
  Function *f = live_function(fn);
  if (f == nullptr || f->dev != dev) return FL_ERROR_INVALID_HANDLE;
  if (!f->layout_known) return FL_ERROR_NOT_SUPPORTED;
  if (static_cast<size_t>(index) >= f->offset.size()) return FL_ERROR_INVALID_VALUE;
  *offset = f->offset[index];
  *size = f->size[index];
  *kind = FL_PARAM_UNKNOWN;
  return FL_SUCCESS;
}

int32_t fl_launch_function(int32_t dev, uint64_t stream, uint64_t fn, const uint32_t *dims, uint32_t shared_bytes,
                           const void *args, uint64_t args_bytes, const char *name) {
  if (dims == nullptr || (args_bytes != 0 && args == nullptr)) return FL_ERROR_INVALID_VALUE;
  Function *f;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    f = live_function(fn);
  }
  if (f == nullptr || f->dev != dev) return FL_ERROR_INVALID_HANDLE;
#if defined(FL_BACKEND_CUDA)
  if (!f->layout_known) return FL_ERROR_NOT_SUPPORTED; /* no offsets to point into the packed buffer */
#endif
  if (f->layout_known && args_bytes != f->args_bytes) return FL_ERROR_INVALID_VALUE;
  const fl_launch_dims d = fl_launch_dims_make(dims[0], dims[1], dims[2], dims[3], dims[4], dims[5]);
  if (fl_launch_dims_check(d, fl_launch_limits_default())) return flgpu::refuse_launch();
  flgpu::Launch l;
  if (int32_t st = flgpu::launch_begin(l, dev, stream, name != nullptr ? name : f->name.c_str())) return st;
#if defined(FL_BACKEND_CUDA)
  std::vector<void *> params(f->offset.size());
  for (size_t i = 0; i < params.size(); i++) {
    params[i] = const_cast<char *>(static_cast<const char *>(args) + f->offset[i]);
  }
  (void)cudaLaunchKernel(reinterpret_cast<const void *>(f->kernel), flgpu::grid_of(d), flgpu::block_of(d),
                         params.data(), shared_bytes, l.hstream);
#else
  size_t size = static_cast<size_t>(args_bytes);
  void *extra[] = {HIP_LAUNCH_PARAM_BUFFER_POINTER, const_cast<void *>(args), HIP_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   HIP_LAUNCH_PARAM_END};
  (void)hipModuleLaunchKernel(f->fn, d.grid[0], d.grid[1], d.grid[2], d.block[0], d.block[1], d.block[2],
                              shared_bytes, l.hstream, nullptr, args_bytes != 0 ? extra : nullptr);
#endif
  return flgpu::launch_end(l);
}
