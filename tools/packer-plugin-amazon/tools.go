//go:build tools

// Package tools pins the Amazon plugin's main package so `go mod tidy` keeps
// its dependencies in go.sum.
package tools

import _ "github.com/hashicorp/packer-plugin-amazon"
