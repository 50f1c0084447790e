# CPack: cpack -G DEB
