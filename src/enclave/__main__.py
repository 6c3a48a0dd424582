from enclave.cli.main import main

main()
