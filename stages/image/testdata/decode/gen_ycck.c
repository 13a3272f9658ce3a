/* Make jpg_ycck.jpg: the CMYK pixels of jpg_cmyk.jpg re-encoded by
 * libjpeg-turbo as a YCCK JPEG (tjCompress2 with TJPF_CMYK writes YCCK with
 * an Adobe marker, transform 2), 4:2:0, quality 90. PIL cannot write YCCK.
 *
 *   gcc -O2 -o /tmp/gen_ycck gen_ycck.c -lturbojpeg && /tmp/gen_ycck
 *   (then gen.py's want step: see gen_ycck_want.py)
 */
#include <stdio.h>
#include <stdlib.h>
#include <turbojpeg.h>

int main(void) {
  FILE *f = fopen("jpg_cmyk.jpg", "rb");
  if (!f) return 1;
  unsigned char buf[1 << 20];
  unsigned long n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  tjhandle d = tjInitDecompress();
  int w, h, ss, cs;
  if (tjDecompressHeader3(d, buf, n, &w, &h, &ss, &cs)) return 2;
  unsigned char *pix = malloc((size_t)w * h * 4);
  if (tjDecompress2(d, buf, n, pix, w, 0, h, TJPF_CMYK, 0)) return 3;
  tjhandle c = tjInitCompress();
  unsigned char *out = NULL;
  unsigned long outSize = 0;
  if (tjCompress2(c, pix, w, 0, h, TJPF_CMYK, &out, &outSize, TJSAMP_420, 90, 0)) return 4;
  f = fopen("jpg_ycck.jpg", "wb");
  fwrite(out, 1, outSize, f);
  fclose(f);
  printf("jpg_ycck.jpg: %dx%d, %lu bytes\n", w, h, outSize);
  return 0;
}
