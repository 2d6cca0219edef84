/* The journal mapping (hip/host.h): a file mapped MAP_SHARED, so that records
 * stored into it from TypeScript reach the page cache at once and survive the
 * process dying inside a native call.
 *
 * Plain C11 + POSIX; compiled into every backend. Never crashes: every failure
 * is a status (1 invalid value, 2 out of memory / no space, 999 anything else).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "../host.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

static int32_t status_of_errno(int e) {
  switch (e) {
    case EINVAL:
    case ENAMETOOLONG:
    case EFAULT:
      return 1; /* FL_ERROR_INVALID_VALUE */
    case ENOMEM:
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
      return 2; /* FL_ERROR_OUT_OF_MEMORY */
    default:
      return 999; /* FL_ERROR_UNKNOWN */
  }
}

FL_EXPORT int32_t fl_journal_map(const char *path, uint64_t bytes, uint64_t *out_addr) {
  if (path == NULL || out_addr == NULL || path[0] == '\0' || bytes == 0) return 1;
  if (bytes > (uint64_t)INT64_MAX || (uint64_t)(off_t)bytes != bytes || (uint64_t)(size_t)bytes != bytes) return 1;
  *out_addr = 0;
  int fd;
  do {
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return status_of_errno(errno);
  int rc;
  do {
    rc = ftruncate(fd, (off_t)bytes);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int e = errno;
    close(fd);
    return status_of_errno(e);
  }
  /* Reserve the blocks now where the file system can, so that a full disk is a
   * status here rather than a SIGBUS on a later store into the mapping. */
  rc = posix_fallocate(fd, 0, (off_t)bytes);
  if (rc == ENOSPC || rc == EFBIG || rc == EDQUOT) {
    close(fd);
    return 2;
  }
  void *p = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int e = errno;
  close(fd); /* the mapping keeps the file open */
  if (p == MAP_FAILED) return status_of_errno(e);
  /* Fault every page in, writable, now: a first store into a page of a shared file mapping
   * otherwise traps into the kernel (a page fault and the file system's page_mkwrite), once
   * per page, in the middle of the calls being journaled. Older kernels refuse the advice;
   * then the pages fault in as they are first written. */
  (void)madvise(p, (size_t)bytes, MADV_POPULATE_WRITE);
  *out_addr = (uint64_t)(uintptr_t)p;
  return 0;
}

FL_EXPORT int32_t fl_journal_unmap(uint64_t addr, uint64_t bytes) {
  if (addr == 0 || bytes == 0 || (uint64_t)(size_t)bytes != bytes) return 1;
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0 && addr % (uint64_t)page != 0) return 1;
  if (munmap((void *)(uintptr_t)addr, (size_t)bytes) != 0) return status_of_errno(errno);
  return 0;
}
