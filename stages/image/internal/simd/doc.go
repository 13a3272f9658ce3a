// Package simd holds the assembly kernels of package image. They live in a
// package of their own because a package that uses cgo (image does, with
// the turbojpeg build tag) cannot contain Go assembly.
package simd
