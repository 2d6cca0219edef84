/* Host backtraces (trace_backtrace.h). */
#include "trace_backtrace.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <stdio.h>
#include <string.h>

#define MAX_FRAMES 48

/* 1 when `pc` lies in this library (the interposer's own frames). */
static int is_own(const Dl_info *info) {
  Dl_info self;
  return dladdr((void *)tr_backtrace_note, &self) && self.dli_fbase == info->dli_fbase;
}

void tr_backtrace_note(uint32_t op) {
  void *pcs[MAX_FRAMES];
  int n = backtrace(pcs, MAX_FRAMES);
  char line[16384];
  size_t len = (size_t)snprintf(line, sizeof line, "{\"bt\":%u,\"frames\":[", op);
  int first = 1;
  for (int i = 0; i < n && len + 1200 < sizeof line; i++) {
    Dl_info info;
    if (!dladdr(pcs[i], &info) || !info.dli_fname) continue;
    if (is_own(&info)) continue;
    /* a return address points after the call: one byte back lands on the call itself */
    uintptr_t off = (uintptr_t)pcs[i] - 1 - (uintptr_t)info.dli_fbase;
    len += (size_t)snprintf(line + len, sizeof line - len, "%s{\"obj\":", first ? "" : ",");
    len += tr_json_string(line + len, 600, info.dli_fname);
    len += (size_t)snprintf(line + len, sizeof line - len, ",\"off\":\"0x%lx\",\"pc\":\"0x%lx\",\"sym\":",
                            (unsigned long)off, (unsigned long)((uintptr_t)pcs[i] - 1));
    len += tr_json_string(line + len, 400, info.dli_sname ? info.dli_sname : "");
    len += (size_t)snprintf(line + len, sizeof line - len, "}");
    first = 0;
  }
  snprintf(line + len, sizeof line - len, "]}");
  tr_side(line);
}
