module vmgate/clients/go

go 1.19
