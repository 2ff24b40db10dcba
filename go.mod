module github.com/hookbridge/hookbridge

go 1.26
