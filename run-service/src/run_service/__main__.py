from run_service.main import main

main()
