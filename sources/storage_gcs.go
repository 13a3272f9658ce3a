//go:build gcs

package sources

import (
	"context"
	"net/url"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/gcsblob" // registers gs:// on blob.DefaultURLMux
)

// gcsDriver opens gs:// URLs with gcsblob (Application Default Credentials).
var gcsDriver driverFunc = func(ctx context.Context, _ *Store, u *url.URL) (*blob.Bucket, error) {
	return blob.DefaultURLMux().OpenBucketURL(ctx, u)
}
