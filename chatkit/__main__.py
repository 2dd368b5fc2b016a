from chatkit.cli.main import main

main()
