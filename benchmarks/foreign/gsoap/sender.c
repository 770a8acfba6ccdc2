/* gSOAP's C client as a benchmark sender: one MTOM upload of SIZE bytes, the
 * attachment streamed through gSOAP's MIME/MTOM streaming callbacks (fmimereadopen,
 * fmimeread, fmimereadclose), which copy 64 KiB of random bytes into gSOAP's buffer
 * again and again, as a file read would.  "cl": the size is declared in the
 * xop:Include (__size), so gSOAP counts the message first and sends a
 * Content-Length; "chunked": the size is unknown (__size 0) and the body goes out
 * with HTTP chunked transfer encoding.  Only the call is timed.  Prints one JSON
 * line in the form of benchmarks/senders.py.
 *
 * Usage: sender URL SIZE CHUNK cl|chunked
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#include "soapH.h"
#include "Bench.nsmap"

struct source
{ const char *block;
  size_t chunk;
  long long left;
  size_t pos;
};

static long long total;

static void *mime_read_open(struct soap *soap, void *handle, const char *id, const char *type,
                            const char *description)
{ struct source *src = (struct source *)handle;
  (void)soap; (void)id; (void)type; (void)description;
  src->left = total;
  src->pos = 0;
  return handle;
}

static size_t mime_read(struct soap *soap, void *handle, char *buf, size_t len)
{ struct source *src = (struct source *)handle;
  size_t n = src->chunk - src->pos;
  (void)soap;
  if (src->left <= 0)
    return 0;
  if (n > len)
    n = len;
  if ((long long)n > src->left)
    n = (size_t)src->left;
  memcpy(buf, src->block + src->pos, n);
  src->pos = (src->pos + n) % src->chunk;
  src->left -= (long long)n;
  return n;
}

static void mime_read_close(struct soap *soap, void *handle)
{ (void)soap; (void)handle;
}

/* Peak RSS in KiB: VmHWM (ru_maxrss would carry over the parent's peak through exec). */
static long vm_hwm_kib(void)
{ char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "VmHWM:", 6) == 0)
      kib = atol(line + 6);
  fclose(f);
  return kib;
}

static double seconds(const struct timespec *t)
{ return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static double cpu_seconds(const struct rusage *u)
{ return (double)u->ru_utime.tv_sec + (double)u->ru_utime.tv_usec / 1e6
       + (double)u->ru_stime.tv_sec + (double)u->ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{ struct soap *soap;
  struct source src;
  struct b__Data data;
  struct b__UploadResponse response;
  struct timespec t0, t1;
  struct rusage u0, u1;
  long rss_before;
  char *block;
  size_t chunk, i;
  int chunked;

  if (argc != 5)
  { fprintf(stderr, "usage: %s URL SIZE CHUNK cl|chunked\n", argv[0]);
    return 2;
  }
  total = atoll(argv[2]);
  chunk = (size_t)atol(argv[3]);
  chunked = strcmp(argv[4], "chunked") == 0;
  if (total < 0 || total > 0x7fffffffLL || chunk == 0)
  { fprintf(stderr, "SIZE must fit gSOAP's int __size, CHUNK be positive\n");
    return 2;
  }
  block = malloc(chunk);
  srand((unsigned)time(NULL));
  for (i = 0; i < chunk; i++)
    block[i] = (char)(rand() & 0xff);
  src.block = block;
  src.chunk = chunk;

  soap = soap_new1(SOAP_ENC_MTOM | (chunked ? SOAP_IO_CHUNK : 0));
  soap->fmimereadopen = mime_read_open;
  soap->fmimeread = mime_read;
  soap->fmimereadclose = mime_read_close;

  memset(&data, 0, sizeof data);
  data.xop__Include.__ptr = (unsigned char *)&src; /* the handle given to the callbacks */
  data.xop__Include.__size = chunked ? 0 : (int)total;
  data.xop__Include.type = "application/octet-stream";

  rss_before = vm_hwm_kib();
  getrusage(RUSAGE_SELF, &u0);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (soap_call_b__Upload(soap, argv[1], NULL, "payload.bin", &data, &response) != SOAP_OK)
  { soap_print_fault(soap, stderr);
    return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  getrusage(RUSAGE_SELF, &u1);
  /* The receiver counts the whole body: the payload plus the MIME framing and root part. */
  if (response.received < total || response.received > total + 16384)
  { fprintf(stderr, "receiver counted %lld bytes for a %lld-byte payload\n",
            (long long)response.received, total);
    return 1;
  }
  printf("{\"row\": \"gsoap-%s\", \"size\": %lld, \"wall\": %.6f, \"cpu\": %.6f, "
         "\"maxrss_kib\": %ld, \"rss_before_kib\": %ld, \"minor_faults\": %ld, "
         "\"body_bytes\": %lld}\n",
         chunked ? "chunked" : "cl", total, seconds(&t1) - seconds(&t0),
         cpu_seconds(&u1) - cpu_seconds(&u0), vm_hwm_kib(), rss_before,
         u1.ru_minflt - u0.ru_minflt, (long long)response.received);
  soap_destroy(soap);
  soap_end(soap);
  soap_free(soap);
  free(block);
  return 0;
}
