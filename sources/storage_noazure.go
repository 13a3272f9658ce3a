//go:build !azure

package sources

// azureDriver is nil: azblob:// needs a build with -tags azure.
var azureDriver driverFunc
