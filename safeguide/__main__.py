from safeguide.cli import main

main()
