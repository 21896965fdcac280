from birnn_tag.cli import main

main()
