from mdi.cli import main

main()
