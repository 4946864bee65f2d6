from cie_embedded.main import main

main()
