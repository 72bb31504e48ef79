from hcrbatch.cli import main

main()
