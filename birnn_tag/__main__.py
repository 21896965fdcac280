from birnn_tag.cli.app import main

main()
