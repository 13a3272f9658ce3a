package sources

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/s3blob"
)

// baseName is filepath.Base (a helper so that callers need not import it).
func filepathBase(p string) string { return filepath.Base(p) }

// openS3 opens an s3:// bucket URL as s3blob's URLOpener does (same query
// parameters: the AWS ones of gocloud.dev/aws.V2ConfigFromURLParams, plus
// use_path_style, s3ForcePathStyle, disable_https, accelerate, ssetype,
// kmskeyid), except that the SDK's own retries are off: the Store retries,
// with its backoff, and counts every retry.
func openS3(ctx context.Context, st *Store, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	// Ranged GETs carry no whole-object checksum: do not log that for each.
	opts := []func(*s3.Options){func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true }}
	var bopts s3blob.Options
	boolParam := func(key string, set func(bool)) error {
		if v := q.Get(key); v != "" {
			q.Del(key)
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("invalid value for %q: %w", key, err)
			}
			set(b)
		}
		return nil
	}
	for _, key := range []string{"use_path_style", "s3ForcePathStyle"} {
		if err := boolParam(key, func(b bool) { opts = append(opts, func(o *s3.Options) { o.UsePathStyle = b }) }); err != nil {
			return nil, err
		}
	}
	if err := boolParam("disable_https", func(b bool) { opts = append(opts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = b }) }); err != nil {
		return nil, err
	}
	if err := boolParam("accelerate", func(b bool) { opts = append(opts, func(o *s3.Options) { o.UseAccelerate = b }) }); err != nil {
		return nil, err
	}
	if v := q.Get("ssetype"); v != "" {
		q.Del("ssetype")
		bopts.EncryptionType = types.ServerSideEncryption(v)
	}
	if v := q.Get("kmskeyid"); v != "" {
		q.Del("kmskeyid")
		bopts.KMSEncryptionID = v
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, err
	}
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	cfg.HTTPClient = &http.Client{Transport: st.transport}
	bopts.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	return s3blob.OpenBucket(ctx, s3.NewFromConfig(cfg, opts...), u.Host, &bopts)
}

// openFile opens a file:// folder URL (fileblob's query parameters).
func openFile(ctx context.Context, _ *Store, u *url.URL) (*blob.Bucket, error) {
	return (&fileblob.URLOpener{}).OpenBucketURL(ctx, u)
}
