//go:build !gcs

package sources

// gcsDriver is nil: gs:// needs a build with -tags gcs.
var gcsDriver driverFunc
