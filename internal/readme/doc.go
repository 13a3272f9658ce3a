// Package readme holds the test that keeps README.md's Go code identical
// to the Example functions that compile and run it.
package readme
