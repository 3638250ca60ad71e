//go:build tools

// Package tools pins Packer's main package so `go mod tidy` keeps its
// dependencies in go.sum.
package tools

import _ "github.com/hashicorp/packer"
