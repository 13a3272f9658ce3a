//go:build azure

package sources

import (
	"context"
	"net/url"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/azureblob" // registers azblob:// on blob.DefaultURLMux
)

// azureDriver opens azblob:// URLs with azureblob (the Azure SDK's default credential chain (AZURE_* variables, managed identity, CLI)).
var azureDriver driverFunc = func(ctx context.Context, _ *Store, u *url.URL) (*blob.Bucket, error) {
	return blob.DefaultURLMux().OpenBucketURL(ctx, u)
}
